// Host ports for units: a range handed out one port at a time, each claimed in the host's
// claims and checked to be bindable, shared by the drivers that publish units on this machine.
export {
  PortAllocator,
  type PortAllocatorOptions,
  type PortClaims,
  type PortRange,
} from './port-allocator.js';
