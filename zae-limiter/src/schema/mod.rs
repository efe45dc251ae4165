//! Every key, attribute name and item format of a zae-limiter table (spec §2–§3).

pub mod table;
