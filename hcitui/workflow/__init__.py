"""The upgrade logic: steps, interlocks and waits. Plain asyncio; never imports Textual."""
