-- The CRM lives in its own database beside Airflow's metadata.
CREATE DATABASE crm OWNER airflow;
