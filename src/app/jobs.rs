//! Background work for the app, in one queue. Each job runs on a named thread, reports progress
//! and its result over a channel and asks for a repaint after each message; the app polls every
//! frame. A job of a kind can replace the running one of that kind (the old one is cancelled
//! and its result dropped). Errors are typed: a cancelled job says so as [`JobError::Cancelled`],
//! a job that panics is caught and reported as an error, never a crash.

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
    /// Waiting for a system file dialog.
    Dialog,
    /// A stage's own analysis (fit statistics, DIF, classical tables, a report).
    Stage(super::stages::StageId),
}

impl JobKind {
    /// Whether the user can cancel it from the status bar.
    pub fn cancellable(self) -> bool {
        !matches!(self, JobKind::Dialog | JobKind::Process)
    }
}

/// Why a job produced no result.
#[derive(Clone, Debug, PartialEq)]
pub enum JobError {
    /// The user (or a newer job of the same kind) cancelled it.
    Cancelled,
    /// It failed; the message says why.
    Failed(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Cancelled => f.write_str("cancelled"),
            JobError::Failed(message) => f.write_str(message),
        }
    }
}

/// A running job.
pub struct Job<T> {
    /// What it does.
    pub kind: JobKind,
    /// Shown in the status bar.
    pub label: String,
    cancel: Arc<AtomicBool>,
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
    Done(Result<T, JobError>),
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

impl<T: Send + 'static> Job<T> {
    fn spawn(
        kind: JobKind,
        label: String,
        repaint: impl Fn() + Send + Sync + Clone + 'static,
        work: impl FnOnce(&ProgressSink<T>, &Arc<AtomicBool>) -> Result<T, JobError> + Send + 'static,
    ) -> Job<T> {
        let (sender, receiver) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let thread_cancel = cancel.clone();
        let thread_sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("irtlab {label}"))
            .spawn(move || {
                let sink = ProgressSink {
                    sender: thread_sender.clone(),
                    repaint: Box::new(repaint.clone()),
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
                repaint();
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

    fn poll(&mut self) -> Option<Result<T, JobError>> {
        loop {
            match self.receiver.try_recv() {
                Ok(Message::Progress(fraction, detail)) => {
                    self.fraction = Some(fraction);
                    self.detail = detail;
                }
                Ok(Message::Done(result)) => return Some(result),
                Ok(Message::Panicked(message)) => {
                    return Some(Err(JobError::Failed(format!(
                        "{} failed unexpectedly: {message}",
                        self.label
                    ))));
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    return Some(Err(JobError::Failed(format!(
                        "{} stopped without a result",
                        self.label
                    ))));
                }
            }
        }
    }

    /// Whether it was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The app's running jobs.
pub struct JobQueue<T> {
    jobs: Vec<Job<T>>,
    repaint: Arc<dyn Fn() + Send + Sync>,
}

impl<T: Send + 'static> JobQueue<T> {
    /// An empty queue; `repaint` asks the window to draw again.
    pub fn new(repaint: Arc<dyn Fn() + Send + Sync>) -> JobQueue<T> {
        JobQueue {
            jobs: Vec::new(),
            repaint,
        }
    }

    /// Sets how jobs ask for a repaint (once the window exists).
    pub fn set_repaint(&mut self, repaint: Arc<dyn Fn() + Send + Sync>) {
        self.repaint = repaint;
    }

    /// Starts a job, cancelling and dropping any running job of the same kind.
    pub fn replace(
        &mut self,
        kind: JobKind,
        label: impl Into<String>,
        work: impl FnOnce(&ProgressSink<T>, &Arc<AtomicBool>) -> Result<T, JobError> + Send + 'static,
    ) {
        self.cancel(kind);
        self.jobs.retain(|j| j.kind != kind);
        self.start(kind, label, work);
    }

    /// Starts a job beside any others.
    pub fn start(
        &mut self,
        kind: JobKind,
        label: impl Into<String>,
        work: impl FnOnce(&ProgressSink<T>, &Arc<AtomicBool>) -> Result<T, JobError> + Send + 'static,
    ) {
        let repaint = self.repaint.clone();
        self.jobs
            .push(Job::spawn(kind, label.into(), move || repaint(), work));
    }

    /// Whether a job of this kind is running.
    pub fn running(&self, kind: JobKind) -> bool {
        self.jobs
            .iter()
            .any(|j| j.kind == kind && !j.is_cancelled())
    }

    /// The running job of this kind.
    pub fn get(&self, kind: JobKind) -> Option<&Job<T>> {
        self.jobs
            .iter()
            .find(|j| j.kind == kind && !j.is_cancelled())
    }

    /// Asks the running jobs of this kind to stop.
    pub fn cancel(&self, kind: JobKind) {
        for job in self.jobs.iter().filter(|j| j.kind == kind) {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Whether any job is running.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The jobs, for the status bar.
    pub fn iter(&self) -> impl Iterator<Item = &Job<T>> {
        self.jobs.iter().filter(|j| !j.is_cancelled())
    }

    /// Results of the jobs that finished since the last call. A job cancelled by the user
    /// reports [`JobError::Cancelled`] whatever it returned.
    pub fn poll(&mut self) -> Vec<(JobKind, Result<T, JobError>)> {
        let mut finished = Vec::new();
        self.jobs.retain_mut(|job| match job.poll() {
            None => true,
            Some(result) => {
                let result = if job.is_cancelled() {
                    Err(JobError::Cancelled)
                } else {
                    result
                };
                finished.push((job.kind, result));
                false
            }
        });
        finished
    }
}
