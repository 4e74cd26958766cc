"""The pair model: features of candidate pairs, the LightGBM model, graph steps, and its Matcher."""
