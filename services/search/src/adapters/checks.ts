/** The argument checks of the search adapters come from the kit; re-exported so each adapter imports its checks from one place. */
export { checkName, checkTtl, encodeJson, tenantOf } from "@caas/shared/checks";
