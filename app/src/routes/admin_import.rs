//! `/admin/products/import`: the catalogue as CSV. **Export** downloads it; a file sent back is
//! first **Checked** (a dry run: each line's problem by line number, and what an import would do)
//! and then **Imported** in one go, or imported at once. Nothing changes while any line has a
//! problem.

use crate::api::catalog_admin::get_import_report;
use crate::components::feedback::NotAllowed;
use crate::model::ImportReport;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminImportPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_import_report());
    view! {
        <Title text="Import and export products" />
        <h1>"Import and export products"</h1>
        <p><a href="/admin/products">"All products"</a></p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <ImportForms report /> }.into_any(),
                    Err(error) => view! { <NotAllowed error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ImportForms(report: Option<ImportReport>) -> impl IntoView {
    view! {
        <section aria-labelledby="export-heading">
            <h2 id="export-heading">"Export"</h2>
            <p>
                <a href="/admin/products.csv" class="button" download="catalogue.csv">"Download the catalogue (CSV)"</a>
            </p>
            <p class="hint">"One line per product: sku, name, slug, description, category, status (on sale or hidden), stock, a price column per currency (empty: not sold in it) and photos. Archived products are left out."</p>
        </section>
        {report.map(|report| view! { <ReportView report /> })}
        <section aria-labelledby="import-heading">
            <h2 id="import-heading">"Import"</h2>
            <p>"Lines are matched by SKU: a known SKU updates its product, a new one creates a product. A column left out of the file keeps each product's value. A new category name creates the category."</p>
            <form method="post" action="/admin/products/import/file" enctype="multipart/form-data" class="upload-form">
                <p class="field">
                    <label for="file">"CSV file"</label>
                    <input id="file" name="file" type="file" required accept=".csv,text/csv" aria-describedby="file-hint" />
                    <span class="hint" id="file-hint">"UTF-8, up to 8 MB and 10,000 products. Check it first: nothing is changed, and every problem is listed by line."</span>
                </p>
                <p class="actions">
                    <button type="submit" name="mode" value="check" class="primary">"Check the file"</button>
                    <button type="submit" name="mode" value="import">"Import now"</button>
                </p>
            </form>
        </section>
    }
}

/// What the last check or import found.
#[component]
fn ReportView(report: ImportReport) -> impl IntoView {
    let problems = report.problem_count();
    let plan = format!(
        "{} new, {} updated{}",
        report.created,
        report.updated,
        if report.new_categories.is_empty() {
            String::new()
        } else {
            format!("; new categories: {}", report.new_categories.join(", "))
        }
    );
    let file = if report.file_name.is_empty() {
        "The file".to_string()
    } else {
        format!("“{}”", report.file_name)
    };
    let summary = match (report.applied, problems) {
        (true, _) => format!("Imported {file}: {plan}."),
        (false, 0) => format!(
            "{file} is ready to import ({} products): {plan}. Nothing has changed yet.",
            report.lines
        ),
        (false, 1) => format!("{file} has 1 problem; nothing was changed."),
        (false, n) => format!("{file} has {n} problems; nothing was changed."),
    };
    let (role, class) = if problems > 0 {
        ("alert", "alert")
    } else {
        ("status", "status")
    };
    let more = report.more_problems;
    view! {
        <section aria-labelledby="report-heading" class="import-report">
            <h2 id="report-heading">{if report.applied { "Imported" } else { "Checked" }}</h2>
            <p role=role class=class>{summary}</p>
            {(!report.problems.is_empty()).then(|| view! {
                <table class="stack">
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Problem"</th></tr></thead>
                    <tbody>
                        {report.problems.into_iter().map(|p| view! {
                            <tr>
                                <th scope="row">{if p.line == 0 { "file".to_string() } else { p.line.to_string() }}</th>
                                <td data-label="Problem">{p.message}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {(more > 0).then(|| view! { <p>{format!("… and {more} more.")}</p> })}
            })}
            {report.token.map(|token| view! {
                <form method="post" action="/admin/products/import/confirm">
                    <input type="hidden" name="token" value=token />
                    <button type="submit" class="primary">{format!("Import these {} products", report.lines)}</button>
                </form>
            })}
        </section>
    }
}
