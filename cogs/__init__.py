"""Feature cogs: one feature per module, each ending with `async def setup(bot)`."""
