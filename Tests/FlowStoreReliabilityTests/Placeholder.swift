// Replaced by the reliability suite.
