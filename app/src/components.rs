//! Reusable pieces of the pages.

pub mod feedback;
pub mod field;
pub mod layout;
pub mod live;
pub mod order_list;
pub mod product_tile;
pub mod refund_list;
pub mod refund_panel;
pub mod sales_chart;
pub mod utc_time;
