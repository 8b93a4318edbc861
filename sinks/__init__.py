"""botbill package."""
