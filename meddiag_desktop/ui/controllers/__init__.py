"""Controllers: connect widgets to domain functions run in workers."""
