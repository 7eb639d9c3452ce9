"""Guard-rail checks as pure functions (`checks`) and their CrossGuard wrappers (`pack`)."""
