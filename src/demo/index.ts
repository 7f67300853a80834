/**
 * @packageDocumentation
 * `palm demo`: a swarm of devices on this machine to watch and break (see demo.ts). Used by the CLI.
 */
export { DEMO_ACTIONS, DEMO_MAX_DEVICES, DEMO_MIN_DEVICES, demoAction, demoDir, demoPolicy, demoStatus, readDemo, startDemo, stopDemo } from './demo.js'
export type { DemoAction, DemoDevice, DemoState, DeviceState, StartOptions } from './demo.js'
