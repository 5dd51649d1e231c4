// Host ports for units: a range handed out one port at a time, each checked to be bindable,
// shared by the drivers that publish units on this machine's loopback.
export { PortAllocator, type PortRange } from './port-allocator.js';
