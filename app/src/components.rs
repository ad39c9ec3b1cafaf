//! Reusable pieces of the pages.

pub mod feedback;
pub mod layout;
pub mod order_list;
pub mod product_tile;
