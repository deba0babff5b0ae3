-- One file's valid applicant rows, one per applicant_id (the file's last row wins).
CREATE TEMPORARY TABLE stg_applicants (
    applicant_id VARCHAR(128) PRIMARY KEY,
    email TEXT NOT NULL,
    email_match_key TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    phone_e164 VARCHAR(16),
    status VARCHAR(16) NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    retain_for_future_roles BOOLEAN NOT NULL,
    dispute BOOLEAN NOT NULL
)
