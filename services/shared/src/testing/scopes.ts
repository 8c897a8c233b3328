import { randomUUID } from "node:crypto";
import { scopeForAdmin, type TenantScope } from "../tenant-scope.js";

/** A fresh tenant scope for one test: tests never share tenants. */
export function freshTenantScope(prefix = "t"): TenantScope {
  return scopeForAdmin(`${prefix}${randomUUID().replace(/-/g, "").slice(0, 20)}`);
}
