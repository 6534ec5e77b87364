"""The local heuristic insight engine and its rules."""
