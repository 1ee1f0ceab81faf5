//! The Engine.IO session state machine.

/// Placeholder.
#[derive(Debug)]
pub struct Session;
/// Placeholder.
#[derive(Debug)]
pub struct SessionConfig;
/// Placeholder.
#[derive(Debug)]
pub enum Event {}
/// Placeholder.
#[derive(Debug)]
pub enum Role {}
/// Placeholder.
#[derive(Debug)]
pub enum CloseReason {}
/// Placeholder.
#[derive(Debug)]
pub struct Transmit;
/// Placeholder.
#[derive(Debug)]
pub enum TransportKind {}
