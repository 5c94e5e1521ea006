"""The file the benchmark edits between warm builds (a source change)."""

BUILD_MARK = 0
