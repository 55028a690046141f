//! Progress on stderr: a bar during applies on a terminal, which also shows
//! rate-limit waits; plain lines everywhere else.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use seqops::engine::Progress;

/// The bar of the apply under way, if any, so that notes (rate-limit waits,
/// retries) show on it instead of breaking it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Where the HTTP layer's notes go.
pub fn notifier() -> seqops::providers::http::Notifier {
    Arc::new(|message: String| {
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => {
                bar.set_message(message.clone());
                bar.println(format!("note: {message}"));
            }
            None => eprintln!("note: {message}"),
        }
    })
}

/// Reports an apply of `total` changes: lines on stdout, and a bar on
/// stderr when it is a terminal. Dropping it removes the bar.
pub struct ApplyProgress {
    bar: Option<ProgressBar>,
}

impl ApplyProgress {
    pub fn start(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {elapsed_precise} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar.clone();
        Self { bar }
    }

    pub fn report(&self, event: Progress) {
        match &self.bar {
            Some(bar) => {
                bar.println(&event.line);
                if event.finished {
                    bar.inc(1);
                } else {
                    bar.set_message(event.line);
                }
            }
            None => println!("{}", event.line),
        }
    }
}

impl Drop for ApplyProgress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        *BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
