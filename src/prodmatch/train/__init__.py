"""prodmatch.train"""
