-- Account registrations per client address, for the registration rate limit.
CREATE TABLE registration_attempts (
    id INTEGER PRIMARY KEY,
    ip TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX registration_attempts_ip ON registration_attempts (ip, at_ms);
