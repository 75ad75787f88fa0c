//! Fuzzes schedule expressions (`rate()`, `cron()`, `at()`): parsing, error messages, and the
//! next fire times of what parses, in UTC and in zones with daylight-saving changes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expression = match eddy_schedule::ScheduleExpression::parse(text) {
        Ok(e) => e,
        Err(e) => {
            let _ = e.rule_message();
            let _ = e.scheduler_message(text);
            return;
        }
    };
    let _ = expression.allowed_for_rules();
    // 2027-01-01T00:00:00Z, and the last second jiff can hold.
    let starts = [1_798_761_600, 253_402_207_199];
    for zone in ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"] {
        let Ok(tz) = jiff::tz::TimeZone::get(zone) else {
            continue;
        };
        for secs in starts {
            let Ok(after) = jiff::Timestamp::from_second(secs) else {
                continue;
            };
            for t in expression.fire_times(after, &tz, Some(after)).take(3) {
                assert!(t > after, "{text}: {t} is not after {after} in {zone}");
            }
        }
    }
});
