// The container runtime against a real Podman engine through its Docker API: the shared
// driver contract, then what only containers do (limits, labels, networks, engine faults).
import { driverContract } from './contract.js';
import { containerFixture } from './support/container-fixture.js';

driverContract('container', () => containerFixture({ portRange: { from: 31_000, to: 31_999 } }));
