"""prodmatch.kernel"""
