"""provstore-aiida: read aiida-core 2.x stores and archives in place, read-only, as provstore storage backends.

The backends (``core.aiida_sqlite_dos``, ``core.aiida_psql_dos``, ``core.aiida_archive``) open aiida-core's
own tables, which follow the same layout as provstore's, so that ``provstore storage transfer`` and
``provstore archive import`` can bring the data into a provstore store. They never write to what they open.
"""
