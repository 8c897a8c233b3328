export { fakeTime, forgedScope, realTime, type Instances, type TestTime } from "@caas/shared/testing";
