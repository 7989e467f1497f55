"""The emulator's service-independent machinery: HTTP shapes, routing, auth, faults, clock, the two fronts."""
