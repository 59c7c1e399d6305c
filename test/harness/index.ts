export {
  type Bind,
  type BootOptions,
  bootContainer,
  bootForSuite,
  Container,
  type ContainerSuite,
  containerSupport,
  ContainerUnavailable,
  INSIDE_PATH,
  janitor,
  KEYHOLD_INSIDE,
  needContainer,
  PROJECT_INSIDE,
  PROJECT_ROOT,
  type RunOptions,
  type RunResult,
} from "./container.js";
export { jobServerOutputsCommand, jobServerUnitArgs } from "./jobserver.js";
