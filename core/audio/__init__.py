"""Audio preparation shared by every engine: decode, trim, vocal separation, normalisation, silence map, output track.

Import the pipeline from ``core.audio.prepare``; this package stays light so the weights registry can import the
manifest ``core.audio.weights`` without loading audio libraries.
"""
