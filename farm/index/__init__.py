"""The simple index: pure rendering of PEP 503/691 pages, content negotiation, and the rendered page tree."""
