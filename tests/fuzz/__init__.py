"""Property-based fuzz tests of the parsers that read untrusted input."""
