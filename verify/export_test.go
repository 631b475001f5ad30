package verify

// PretendNoIPv6 makes c behave as if this machine could not send to any
// IPv6 address (the kernel's ENETUNREACH), which loopback tests cannot
// arrange for real.
func PretendNoIPv6(c *Checker) { c.noIPv6 = true }
