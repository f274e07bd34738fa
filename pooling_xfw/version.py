"""The toolkit's version (``pooling_xfw.__version__``), kept where every module can read it."""
__version__ = "0.1.0"
