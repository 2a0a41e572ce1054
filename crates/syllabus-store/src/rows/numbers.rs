//! Saturating conversions between PostgreSQL's signed integers and the records' unsigned ones.

pub(crate) fn to_u32(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(0)
}

pub(crate) fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
