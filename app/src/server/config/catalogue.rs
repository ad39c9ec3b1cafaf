//! `DEMO_CATALOGUE` and `MEDIA_DIR`: what the catalogue starts with and where product photos live.

use super::{bad, ConfigError, PaymentsMode};
use crate::server::db::demo_catalogue::Load;
use std::path::PathBuf;

/// Where product photos are written when `MEDIA_DIR` is not set.
pub const DEFAULT_MEDIA_DIR: &str = "data/media";

/// `DEMO_CATALOGUE`: whether the shop's demo products are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoCatalogue {
    /// `auto` (the default): on a database's first start, in sandbox mode only.
    Auto,
    /// `yes`: whenever the catalogue has no products at all, in either mode.
    Yes,
    /// `no`: never.
    No,
}

#[derive(Debug, Clone)]
pub struct CatalogueSettings {
    pub demo: DemoCatalogue,
    /// `MEDIA_DIR`: product photos, one file per width; instances behind a load balancer share
    /// it (a shared volume).
    pub media_dir: PathBuf,
}

impl CatalogueSettings {
    pub fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let demo = match var("DEMO_CATALOGUE").as_deref() {
            None | Some("auto") => DemoCatalogue::Auto,
            Some("yes") => DemoCatalogue::Yes,
            Some("no") => DemoCatalogue::No,
            Some(_) => return Err(bad("DEMO_CATALOGUE", "expected auto, yes or no")),
        };
        let media_dir = PathBuf::from(var("MEDIA_DIR").unwrap_or_else(|| DEFAULT_MEDIA_DIR.into()));
        Ok(CatalogueSettings { demo, media_dir })
    }

    /// When the demo catalogue is loaded, in this payments mode.
    pub fn demo_load(&self, mode: PaymentsMode) -> Load {
        match (self.demo, mode) {
            (DemoCatalogue::Auto, PaymentsMode::Sandbox) => Load::OnFirstStart,
            (DemoCatalogue::Auto, PaymentsMode::Live) | (DemoCatalogue::No, _) => Load::Never,
            (DemoCatalogue::Yes, _) => Load::IntoAnEmptyCatalogue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Option<&str>) -> Result<CatalogueSettings, ConfigError> {
        CatalogueSettings::from_lookup(&|name: &str| {
            (name == "DEMO_CATALOGUE")
                .then(|| value.map(str::to_string))
                .flatten()
        })
    }

    #[test]
    fn a_live_shop_starts_empty_unless_its_merchant_asks() {
        let auto = read(None).unwrap();
        assert_eq!(auto.demo_load(PaymentsMode::Sandbox), Load::OnFirstStart);
        assert_eq!(auto.demo_load(PaymentsMode::Live), Load::Never);
        let yes = read(Some("yes")).unwrap();
        assert_eq!(
            yes.demo_load(PaymentsMode::Live),
            Load::IntoAnEmptyCatalogue
        );
        let no = read(Some("no")).unwrap();
        assert_eq!(no.demo_load(PaymentsMode::Sandbox), Load::Never);
        assert_eq!(auto.media_dir, PathBuf::from(DEFAULT_MEDIA_DIR));
    }

    #[test]
    fn an_unknown_choice_is_refused_by_name() {
        let error = read(Some("sometimes")).unwrap_err();
        assert_eq!(error.var, "DEMO_CATALOGUE");
    }
}
