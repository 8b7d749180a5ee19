"""Turn a slow synchronous task into an asynchronous one: DataUploadService."""
