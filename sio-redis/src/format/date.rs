//! `Date#toJSON` for the dates notepack.io decodes: what a Node.js server sends on for them.

/// JavaScript's largest time value, in milliseconds from the epoch (`new Date(x)` is invalid
/// beyond it).
const MAX_TIME_MS: f64 = 8.64e15;

/// The string `new Date(ms).toJSON()` returns, `None` where it returns `null` (an invalid date:
/// NaN, or beyond ±8.64e15 ms). The time value is truncated toward zero, as `new Date` does.
pub(crate) fn js_date_json(ms: f64) -> Option<String> {
    if !ms.is_finite() || ms.abs() > MAX_TIME_MS {
        return None;
    }
    let ms = ms.trunc() as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z"
    ))
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::js_date_json;

    #[test]
    fn like_to_json() {
        assert_eq!(js_date_json(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            js_date_json(1_714_564_800_123.9).unwrap(),
            "2024-05-01T12:00:00.123Z"
        );
        assert_eq!(js_date_json(-1.0).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(js_date_json(-0.5).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            js_date_json(8.64e15).unwrap(),
            "+275760-09-13T00:00:00.000Z"
        );
        assert_eq!(
            js_date_json(-8.64e15).unwrap(),
            "-271821-04-20T00:00:00.000Z"
        );
        assert_eq!(
            js_date_json(-62_198_755_200_000.0).unwrap(),
            "-000001-01-01T00:00:00.000Z"
        );
        assert_eq!(js_date_json(8.64e15 + 1.0), None);
        assert_eq!(js_date_json(f64::NAN), None);
    }
}
