"""The HTTP checks every request passes: tokens and body limits (gate, auth), browser headers, and the
validation of queries, filters and uploaded releases."""
