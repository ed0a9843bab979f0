//! Telephony: Asterisk (`Master.csv` CDRs and `queue_log`) and Amazon Connect contact trace
//! records.

mod asterisk;
mod connect;

pub(super) use asterisk::asterisk;
pub(crate) use asterisk::queue_log_day;
pub(super) use connect::connect;
