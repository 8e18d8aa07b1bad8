"""The study browser: patient > study > series tree with thumbnails."""
