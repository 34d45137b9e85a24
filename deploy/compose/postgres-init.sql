-- Temporal's databases beside the HMS one (auto-setup creates their schemas on first start).
CREATE DATABASE temporal;
CREATE DATABASE temporal_visibility;
