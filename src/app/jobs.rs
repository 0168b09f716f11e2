//! Background work for the app. Each job runs on a named thread, reports progress and its
//! result over a channel and asks for a repaint after each message; the UI polls every frame
//! with `try_recv`. A job that panics is caught and reported as an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Instant;

/// What a job is doing, so the app can tell jobs apart and cancel or replace them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Loading the source file.
    Load,
    /// Layout and preprocessing.
    Process,
    /// Calibration and scoring.
    Fit,
    /// Scoring with entered parameters.
    Score,
    /// Writing a file.
    Export,
    /// Waiting for a file dialog.
    Dialog,
}

/// A running job.
pub struct Job<T> {
    /// What it does.
    pub kind: JobKind,
    /// Shown in the status bar.
    pub label: String,
    /// Set to stop the job at its next check.
    pub cancel: Arc<AtomicBool>,
    /// Progress in [0, 1], when known.
    pub fraction: Option<f32>,
    /// A line of detail (cycle and log-likelihood while fitting).
    pub detail: String,
    /// When it started.
    pub started: Instant,
    receiver: Receiver<Message<T>>,
}

enum Message<T> {
    Progress(f32, String),
    Done(T),
    Panicked(String),
}

/// Handed to the work function to report progress.
pub struct ProgressSink<T> {
    sender: Sender<Message<T>>,
    repaint: Box<dyn Fn() + Send>,
}

impl<T> ProgressSink<T> {
    /// Reports progress and asks the UI to repaint.
    pub fn report(&self, fraction: f32, detail: String) {
        // A closed channel means the app dropped the job; nothing left to tell.
        let _ = self.sender.send(Message::Progress(fraction, detail));
        (self.repaint)();
    }
}

/// How a job ended, when it has.
pub enum Poll<T> {
    /// Still running.
    Running,
    /// Finished with this output.
    Done(T),
    /// The work panicked; the message says where.
    Failed(String),
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a named thread.
    pub fn spawn(
        kind: JobKind,
        label: impl Into<String>,
        repaint: impl Fn() + Send + Sync + Clone + 'static,
        work: impl FnOnce(&ProgressSink<T>, &AtomicBool) -> T + Send + 'static,
    ) -> Job<T> {
        let (sender, receiver) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let label = label.into();
        let thread_cancel = cancel.clone();
        let thread_sender = sender.clone();
        let thread_repaint = repaint.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("irtlab {label}"))
            .spawn(move || {
                let sink = ProgressSink {
                    sender: thread_sender.clone(),
                    repaint: Box::new(thread_repaint.clone()),
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&sink, &thread_cancel)
                }));
                let message = match result {
                    Ok(output) => Message::Done(output),
                    Err(panic) => Message::Panicked(
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into()),
                    ),
                };
                let _ = thread_sender.send(message);
                thread_repaint();
            });
        if let Err(error) = spawned {
            let _ = sender.send(Message::Panicked(format!(
                "could not start a thread: {error}"
            )));
        }
        Job {
            kind,
            label,
            cancel,
            fraction: None,
            detail: String::new(),
            started: Instant::now(),
            receiver,
        }
    }

    /// Takes the messages that arrived; returns the output once the job has finished.
    pub fn poll(&mut self) -> Poll<T> {
        loop {
            match self.receiver.try_recv() {
                Ok(Message::Progress(fraction, detail)) => {
                    self.fraction = Some(fraction);
                    self.detail = detail;
                }
                Ok(Message::Done(output)) => return Poll::Done(output),
                Ok(Message::Panicked(message)) => {
                    return Poll::Failed(format!("{} failed unexpectedly: {message}", self.label));
                }
                Err(TryRecvError::Empty) => return Poll::Running,
                Err(TryRecvError::Disconnected) => {
                    return Poll::Failed(format!("{} stopped without a result", self.label));
                }
            }
        }
    }

    /// Asks the job to stop.
    pub fn request_cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}
