import { v7 as uuidv7, validate, version } from "uuid";

/** A new server-assigned id: a UUIDv7 string (time-ordered, so it indexes well). */
export function newId(): string {
  return uuidv7();
}

/** True when `s` is a UUIDv7 such as `newId` makes. */
export function isId(s: string): boolean {
  return validate(s) && version(s) === 7;
}
