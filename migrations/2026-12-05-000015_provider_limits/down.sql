DROP TABLE provider_reservations;
DROP TABLE provider_state;
