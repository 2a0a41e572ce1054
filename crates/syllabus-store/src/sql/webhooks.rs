//! Webhook rows the retention pass removes (issue #23).

/// Deliveries that ended (succeeded or failed) before `$1`, a batch of `$2`; their attempts go
/// with them. Reads `webhook_deliveries_ended_idx`.
pub(crate) const DELETE_ENDED_DELIVERIES: &str = "
    DELETE FROM webhook_deliveries WHERE id IN (
        SELECT id FROM webhook_deliveries WHERE ended_at < $1 LIMIT $2)";
