"""Standard shapes other systems read: pure mappings from records and events, no I/O."""
