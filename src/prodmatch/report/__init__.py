"""prodmatch.report"""
