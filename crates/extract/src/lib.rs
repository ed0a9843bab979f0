//! Readers for vendor exports (CRM, IVR/telephony, chat, surveys, web events): raw files to canonical Arrow batches plus rejects.
