"""Visual search (eBay eProduct style): query photos searched against a catalogue index of photos."""
